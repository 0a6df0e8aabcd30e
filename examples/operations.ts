import { graphql } from './generated/index.ts';

/**
 * The operations of an example front-end, written as a team would: with the `graphql()` function
 * codegen's client preset generates from the published schema. `npm run codegen` types them
 * (examples/generated/) and lists them in the trusted-documents manifest
 * (examples/generated/persisted-documents.json); a schema change that breaks one fails codegen and
 * the typecheck of `npm test`.
 */

export const ViewerQuery = graphql(`
  query Viewer {
    viewer { subject role unit { id name } member { id name } }
  }
`);

/** A unit operator's roster screen: a page of members with their unit and enrolments. */
export const MembersPageQuery = graphql(`
  query MembersPage($first: Int!, $after: String) {
    members(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id name idNumberMasked
          unit { id name creditCode }
          enrolments { edges { node { id planYear plan specialDisease enrolledOn contributionPaid } } }
        }
      }
    }
  }
`);

/** A member's claims with their benefit lines. */
export const MemberClaimsQuery = graphql(`
  query MemberClaims($memberId: ID!, $first: Int) {
    member(id: $memberId) {
      id name
      claims(first: $first) {
        edges {
          node {
            id status planYear settledAt personBurdenFen totalFen memberPaysFen reasons { code text { zh en } }
            lines { programme amountFen explanation { zh en } status }
          }
        }
      }
    }
  }
`);

/** A reviewer's decision on the total they checked (the claim's `totalFen` as shown): the claim, or what to show beside the form when it was refused. */
export const ApproveClaimMutation = graphql(`
  mutation ApproveClaim($claimId: ID!, $checkedTotalFen: Fen!, $note: String) {
    approveClaim(input: { claimId: $claimId, checkedTotalFen: $checkedTotalFen, note: $note }) {
      claim { id status decidedBy decidedAt }
      userErrors { field code message }
    }
  }
`);

/** A reviewer's selection approved at once, each at the total shown: one result per claim, refused ones with their reasons. */
export const ApproveClaimsMutation = graphql(`
  mutation ApproveClaims($claimIds: [ID!]!, $checkedTotalsFen: [Fen!]!, $note: String) {
    approveClaims(input: { claimIds: $claimIds, checkedTotalsFen: $checkedTotalsFen, note: $note }) {
      results { claimId claim { id status decidedBy } userErrors { code message } }
      userErrors { field code message }
    }
  }
`);

/** Live claim status for a member's screen (graphql-ws). */
export const ClaimStatusChangedSubscription = graphql(`
  subscription ClaimStatusChanged($memberId: ID, $unitId: ID) {
    claimStatusChanged(memberId: $memberId, unitId: $unitId) { status at claim { id status totalFen } }
  }
`);
