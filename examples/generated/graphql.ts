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
  | 'MAJOR_DISEASE';

/** Where a claim stands. */
export type ClaimStatus =
  /** Approved (automatically or by a reviewer); its lines go to payout. */
  | 'APPROVED'
  /** Cancelled by a reversal of its settlement. */
  | 'CANCELLED'
  /** Not eligible (see `reasons`); no lines. */
  | 'INELIGIBLE'
  /** Waiting for a REVIEWER (total above the threshold, or warnings). Its amounts already count against the caps. */
  | 'PENDING_REVIEW'
  /** Rejected by a reviewer, with the reason; its amounts no longer count. */
  | 'REJECTED';

/** The programme's plan types; contributions per person and year: PUBLIC 100 CNY, PRIVATE 48 CNY. */
export type PlanType =
  /** 非公企业: private enterprises. */
  | 'PRIVATE'
  /** 机关事业单位/国有企业: public bodies and state-owned enterprises. */
  | 'PUBLIC';

/** The roles a caller's token can carry (docs/design.md, Roles). */
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


export type MemberClaimsQuery = { member: { id: string, name: string, claims: { edges: Array<{ node: { id: string, status: ClaimStatus, planYear: number, settledAt: string, personBurdenFen: number, totalFen: number, memberPaysFen: number, reasons: Array<string>, lines: Array<{ programme: BenefitProgramme, amountFen: number, explanation: string, status: BenefitLineStatus }> } }> } } | null };

export type ApproveClaimMutationVariables = Exact<{
  claimId: string | number;
  note?: string | null | undefined;
}>;


export type ApproveClaimMutation = { approveClaim: { id: string, status: ClaimStatus, decidedBy: string | null, decidedAt: string | null } };

export type ClaimStatusChangedSubscriptionVariables = Exact<{
  memberId?: string | number | null | undefined;
  unitId?: string | number | null | undefined;
}>;


export type ClaimStatusChangedSubscription = { claimStatusChanged: { status: ClaimStatus, at: string, claim: { id: string, status: ClaimStatus, totalFen: number } } };


export const ViewerDocument = {"__meta__":{"hash":"sha256:79293fb347f41adb777601f4a9a3f1baff5550a486e8513511141a94a9e6556e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"subject"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"unit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"member"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]} as unknown as DocumentNode<ViewerQuery, ViewerQueryVariables>;
export const MembersPageDocument = {"__meta__":{"hash":"sha256:50892de56cab68fc3249dc930390ae902446f14664b2068b4ccc2dbcfb7c1639"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MembersPage"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"members"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"idNumberMasked"}},{"kind":"Field","name":{"kind":"Name","value":"unit"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"creditCode"}}]}},{"kind":"Field","name":{"kind":"Name","value":"enrolments"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"planYear"}},{"kind":"Field","name":{"kind":"Name","value":"plan"}},{"kind":"Field","name":{"kind":"Name","value":"specialDisease"}},{"kind":"Field","name":{"kind":"Name","value":"enrolledOn"}},{"kind":"Field","name":{"kind":"Name","value":"contributionPaid"}}]}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<MembersPageQuery, MembersPageQueryVariables>;
export const MemberClaimsDocument = {"__meta__":{"hash":"sha256:06b119c1b754cab8a10d3c6560094f465bee7ae17a40f29d48369d0de3c42239"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MemberClaims"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"member"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"claims"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"planYear"}},{"kind":"Field","name":{"kind":"Name","value":"settledAt"}},{"kind":"Field","name":{"kind":"Name","value":"personBurdenFen"}},{"kind":"Field","name":{"kind":"Name","value":"totalFen"}},{"kind":"Field","name":{"kind":"Name","value":"memberPaysFen"}},{"kind":"Field","name":{"kind":"Name","value":"reasons"}},{"kind":"Field","name":{"kind":"Name","value":"lines"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"programme"}},{"kind":"Field","name":{"kind":"Name","value":"amountFen"}},{"kind":"Field","name":{"kind":"Name","value":"explanation"}},{"kind":"Field","name":{"kind":"Name","value":"status"}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<MemberClaimsQuery, MemberClaimsQueryVariables>;
export const ApproveClaimDocument = {"__meta__":{"hash":"sha256:1dda72d850997e5ac51e549d959eb61cf19cd7e92e4b2a474b4d4b88064a1f53"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ApproveClaim"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"claimId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"note"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"approveClaim"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"claimId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"claimId"}}},{"kind":"ObjectField","name":{"kind":"Name","value":"note"},"value":{"kind":"Variable","name":{"kind":"Name","value":"note"}}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"decidedBy"}},{"kind":"Field","name":{"kind":"Name","value":"decidedAt"}}]}}]}}]} as unknown as DocumentNode<ApproveClaimMutation, ApproveClaimMutationVariables>;
export const ClaimStatusChangedDocument = {"__meta__":{"hash":"sha256:f5922efd227267d7860470229daba77c24878c36494025ca7d8760241ed4fde2"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ClaimStatusChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"unitId"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"claimStatusChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"memberId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"memberId"}}},{"kind":"Argument","name":{"kind":"Name","value":"unitId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"unitId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"at"}},{"kind":"Field","name":{"kind":"Name","value":"claim"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"totalFen"}}]}}]}}]}}]} as unknown as DocumentNode<ClaimStatusChangedSubscription, ClaimStatusChangedSubscriptionVariables>;