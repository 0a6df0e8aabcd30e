/**
 * Pages as the front-end asks for them, `$n` items each: what a list of members, claims, payouts or
 * settlements shows. bench/gateway.ts measures them executed; pageQueryCounts.test.ts and each domain's
 * QueryCount test hold their SQL statements constant in the page size.
 */
export const PAGE_DOCUMENTS = {
  members: `query MembersPage($n: Int) { members(first: $n) {
  edges { node { id name idNumberMasked unit { id name creditCode } enrolments { edges { node { id planYear plan specialDisease enrolledOn } } } } }
} }`,
  claims: `query ClaimsPage($n: Int) { claims(first: $n) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node {
    id planYear settledAt status eligible reasons { code text { zh en } } reasonCodes warnings personBurdenFen computedTotalFen totalFen memberPaysFen
    decidedBy decidedAt decisionReason createdAt
    settlement { id setlId status } member { id name } unit { id name }
    lines { id programme basisFen amountFen capsHit status explanation { zh en } diseaseGroups }
    payout { id status amountFen }
  } }
} }`,
  payouts: `query PayoutsPage($n: Int) { payouts(first: $n) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node {
    id amountFen status statusReason paidAt settledAt createdAt
    retryProposal { proposedBy reason }
    claim { id status totalFen lines { programme amountFen } }
    member { id name } unit { id name }
    attempts { attemptNo endToEndId status amountFen creditorName creditorAccountMasked remittanceInfo batch { id msgId status paymentCount } }
  } }
} }`,
  settlements: `query SettlementsPage($n: Int) { settlements(first: $n) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node {
    id setlId kind transaction reversesSetlId visitId insuredPersonNo personNameMasked idNumberMasked insuranceType medicalType
    inpatient settledAt planYear diagnoses status unmatchedReason source processingError receivedAt matchedAt
    amounts { totalFeesFen fundsTotalFen personBurdenFen personalAccountFen cashPaidFen }
    reverses { id setlId } reversedBy { id setlId } duplicateOf { id }
    member { id name } enrolment { id planYear } unit { id name } claim { id status }
  } }
} }`,
} as const;

export type PageKind = keyof typeof PAGE_DOCUMENTS;
