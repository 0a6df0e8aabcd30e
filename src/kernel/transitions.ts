/**
 * A state machine as a table: each status and the statuses a row in it may move to. Each domain's
 * model.ts keeps its tables (mirroring the database's triggers, or the moves its store makes where
 * the database has only a CHECK), and services ask them before a move.
 */
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

/** Whether a row in `from` may move to `to`. */
export function canMove<S extends string>(transitions: Transitions<S>, from: S, to: S): boolean {
  return transitions[from].includes(to);
}

/** The statuses from which `to` may be reached, in the table's order. */
export function statusesInto<S extends string>(transitions: Transitions<S>, to: S): S[] {
  return (Object.keys(transitions) as S[]).filter((from) => transitions[from].includes(to));
}
