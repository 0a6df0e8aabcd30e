/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Where a benefit line stands. */
export type BenefitLineStatus =
  /** Approved, to be paid. */
  | 'APPROVED'
  /** Its settlement was reversed before it was paid. */
  | 'CANCELLED'
  /** Paid out (set by the payouts step). */
  | 'PAID'
  /** Its claim waits for review. */
  | 'PENDING'
  /** Its claim was rejected. */
  | 'REJECTED';

/** The benefit programmes, in the default stacking order. */
export type BenefitProgramme =
  /** 大病补助: a ratio of the growth of the year's out-of-pocket total above a threshold. */
  | 'CRITICAL'
  /** 住院医疗互助: a ratio of the in-policy personal part of an inpatient stay. */
  | 'INPATIENT'
  /** 重大疾病一次性补助: a lump sum on the first diagnosis of a disease group. */
  | 'MAJOR_DISEASE'
  /** 省总工会大病补助: a provincial union's subsidy stacked on the city's lines, a ratio of the growth of the year's out-of-pocket total (less the programmes it names) above its own threshold; paid from the province's account. */
  | 'PROVINCIAL_SUBSIDY';

/** Why a claim is ineligible or pays less than it might. */
export type ClaimReasonCode =
  /** 职工特病等待期: the special-disease add-on was given after the enrolment began (`Enrolment.specialDiseaseFrom`), or for the first time with a renewal, and the stay was admitted within its waiting period, or before it, or on a day the settlement does not give: the programmes needing the add-on pay nothing for it (the claim itself stands). */
  | 'ADD_ON_WAITING_PERIOD'
  /** 互助金未缴清: the unit's contribution for the plan year is not fully paid. */
  | 'CONTRIBUTION_UNPAID'
  /** 医疗类别不适用: the settlement's medical type is not covered by the rule set. */
  | 'MED_TYPE_NOT_COVERED'
  /** 职工特病: a disease group that pays only with the special-disease add-on, which the member lacks. */
  | 'NEEDS_SPECIAL_DISEASE'
  /** 未参加互助: no enrolment for the plan year, or a renewal recorded late (beyond the back-dating limit of the year's first day) for a stay settled, or begun, before its date. */
  | 'NO_ENROLMENT'
  /** 适用条件: a programme applies only to members of some unit types or member categories, and this member is not one of them (the claim itself stands). */
  | 'PROGRAMME_CONDITION_NOT_MET'
  /** 等待期: the stay falls in the member's waiting period (after a first enrolment, or after a renewal recorded late, beyond the back-dating limit of the year's first day: a gap). */
  | 'WAITING_PERIOD';

/** Where a claim stands. */
export type ClaimStatus =
  /** Approved (automatically or by a reviewer); its lines go to payout. */
  | 'APPROVED'
  /** Cancelled by a reversal of its settlement. */
  | 'CANCELLED'
  /** Not eligible (see `reasons`); no lines. */
  | 'INELIGIBLE'
  /** Waiting for a REVIEWER (total above the threshold, or warnings: among them a line paid only because of the member's targeted groups, whatever its amount). Its amounts already count against the caps. */
  | 'PENDING_REVIEW'
  /** Rejected by a reviewer, with the reason; its amounts no longer count. */
  | 'REJECTED';

/** The programme's plan types; contributions per person and year: PUBLIC 100 CNY, PRIVATE 48 CNY. */
export type PlanType =
  /** 非公企业: private enterprises. */
  | 'PRIVATE'
  /** 机关事业单位/国有企业: public bodies and state-owned enterprises. */
  | 'PUBLIC';

/** The roles a caller's token can carry; each value says what the role may see and do. */
export type Role =
  /** City union administrator: everything. */
  | 'ADMIN'
  /** Read-only access to everything, including the audit log. */
  | 'AUDITOR'
  /** Approves payout batches; never the creator of the same batch. */
  | 'FINANCE'
  /** A member: only their own data. */
  | 'MEMBER'
  /** Reviews claims above the automatic-approval threshold. */
  | 'REVIEWER'
  /** A machine client (another system of the union). */
  | 'SERVICE'
  /** Operator of one unit (基层工会): only that unit's members and data. */
  | 'UNIT_OPERATOR';

/** Kinds of `UserError`. */
export type UserErrorCode =
  /** The object's state, or another person's decision, refuses this now (already decided, nothing waiting, a duplicate, four eyes). */
  | 'CONFLICT'
  /** The value of `field` is not acceptable: the message says why. Every such problem of an input is reported at once. */
  | 'INVALID'
  /** The object named by `field` does not exist, or the caller may not know it does (the same answer in both cases). */
  | 'NOT_FOUND';

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer: { subject: string, role: Role, unit: { id: string, name: string } | null, member: { id: string, name: string } | null } };

export type MembersPageQueryVariables = Exact<{
  first: number;
  after?: string | null | undefined;
}>;


export type MembersPageQuery = { members: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { id: string, name: string, idNumberMasked: string, unit: { id: string, name: string, creditCode: string }, enrolments: { edges: Array<{ node: { id: string, planYear: number, plan: PlanType, specialDisease: boolean, enrolledOn: string, contributionPaid: boolean } }> } } }> } };

export type MemberClaimsQueryVariables = Exact<{
  memberId: string | number;
  first?: number | null | undefined;
}>;


export type MemberClaimsQuery = { member: { id: string, name: string, claims: { edges: Array<{ node: { id: string, status: ClaimStatus, planYear: number, settledAt: string, personBurdenFen: number, totalFen: number, memberPaysFen: number, reasons: Array<{ code: ClaimReasonCode, text: { zh: string, en: string } }>, lines: Array<{ programme: BenefitProgramme, amountFen: number, status: BenefitLineStatus, explanation: { zh: string, en: string } }> } }> } } | null };

export type ApproveClaimMutationVariables = Exact<{
  claimId: string | number;
  checkedTotalFen: number;
  note?: string | null | undefined;
}>;


export type ApproveClaimMutation = { approveClaim: { claim: { id: string, status: ClaimStatus, decidedBy: string | null, decidedAt: string | null } | null, userErrors: Array<{ field: string | null, code: UserErrorCode, message: string }> } };

export type ApproveClaimsMutationVariables = Exact<{
  claimIds: Array<string | number> | string | number;
  checkedTotalsFen: Array<number> | number;
  note?: string | null | undefined;
}>;


export type ApproveClaimsMutation = { approveClaims: { results: Array<{ claimId: string, claim: { id: string, status: ClaimStatus, decidedBy: string | null } | null, userErrors: Array<{ code: UserErrorCode, message: string }> }> | null, userErrors: Array<{ field: string | null, code: UserErrorCode, message: string }> } };

export type ClaimStatusChangedSubscriptionVariables = Exact<{
  memberId?: string | number | null | undefined;
  unitId?: string | number | null | undefined;
}>;


export type ClaimStatusChangedSubscription = { claimStatusChanged: { status: ClaimStatus, at: string, claim: { id: string, status: ClaimStatus, totalFen: number } } };


export const ViewerDocument = {"__meta__":{"hash":"sha256:79293fb347f41adb777601f4a9a3f1baff5550a486e8513511141a94a9e6556e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"subject"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"unit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"member"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]} as unknown as DocumentNode<ViewerQuery, ViewerQueryVariables>;
export const MembersPageDocument = {"__meta__":{"hash":"sha256:50892de56cab68fc3249dc930390ae902446f14664b2068b4ccc2dbcfb7c1639"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MembersPage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"members"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"idNumberMasked"}},{"kind":"Field","name":{"kind":"Name","value":"unit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"creditCode"}}]}},{"kind":"Field","name":{"kind":"Name","value":"enrolments"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"planYear"}},{"kind":"Field","name":{"kind":"Name","value":"plan"}},{"kind":"Field","name":{"kind":"Name","value":"specialDisease"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledOn"}},{"kind":"Field","name":{"kind":"Name","value":"contributionPaid"}}]}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<MembersPageQuery, MembersPageQueryVariables>;
export const MemberClaimsDocument = {"__meta__":{"hash":"sha256:342e1859351963b1f1c53c651eddb962afc26ee784c304bed6d78a76f898a1ee"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MemberClaims"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"member"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"claims"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"planYear"}},{"kind":"Field","name":{"kind":"Name","value":"settledAt"}},{"kind":"Field","name":{"kind":"Name","value":"personBurdenFen"}},{"kind":"Field","name":{"kind":"Name","value":"totalFen"}},{"kind":"Field","name":{"kind":"Name","value":"memberPaysFen"}},{"kind":"Field","name":{"kind":"Name","value":"reasons"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"text"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"zh"}},{"kind":"Field","name":{"kind":"Name","value":"en"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"lines"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"programme"}},{"kind":"Field","name":{"kind":"Name","value":"amountFen"}},{"kind":"Field","name":{"kind":"Name","value":"explanation"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"zh"}},{"kind":"Field","name":{"kind":"Name","value":"en"}}]}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<MemberClaimsQuery, MemberClaimsQueryVariables>;
export const ApproveClaimDocument = {"__meta__":{"hash":"sha256:6243ba4134b52b7bc325631ff9585891d42b6f11a6b66209db0d9ade0aa3528e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ApproveClaim"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"claimId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checkedTotalFen"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Fen"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"note"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"approveClaim"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"claimId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"claimId"}}},{"kind":"ObjectField","name":{"kind":"Name","value":"checkedTotalFen"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checkedTotalFen"}}},{"kind":"ObjectField","name":{"kind":"Name","value":"note"},"value":{"kind":"Variable","name":{"kind":"Name","value":"note"}}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"claim"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"decidedBy"}},{"kind":"Field","name":{"kind":"Name","value":"decidedAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<ApproveClaimMutation, ApproveClaimMutationVariables>;
export const ApproveClaimsDocument = {"__meta__":{"hash":"sha256:1ce26f186046254d40ef8cdde75658f2a5ae3e962b3fb11e16bddbac4596b710"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ApproveClaims"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"claimIds"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checkedTotalsFen"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Fen"}}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"note"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"approveClaims"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"claimIds"},"value":{"kind":"Variable","name":{"kind":"Name","value":"claimIds"}}},{"kind":"ObjectField","name":{"kind":"Name","value":"checkedTotalsFen"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checkedTotalsFen"}}},{"kind":"ObjectField","name":{"kind":"Name","value":"note"},"value":{"kind":"Variable","name":{"kind":"Name","value":"note"}}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"results"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"claimId"}},{"kind":"Field","name":{"kind":"Name","value":"claim"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"decidedBy"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<ApproveClaimsMutation, ApproveClaimsMutationVariables>;
export const ClaimStatusChangedDocument = {"__meta__":{"hash":"sha256:f5922efd227267d7860470229daba77c24878c36494025ca7d8760241ed4fde2"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ClaimStatusChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"unitId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"claimStatusChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"memberId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}}},{"kind":"Argument","name":{"kind":"Name","value":"unitId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"unitId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"at"}},{"kind":"Field","name":{"kind":"Name","value":"claim"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"totalFen"}}]}}]}}]}}]} as unknown as DocumentNode<ClaimStatusChangedSubscription, ClaimStatusChangedSubscriptionVariables>;