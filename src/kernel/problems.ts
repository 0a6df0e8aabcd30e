/** What is wrong with one field of an input, for people to fix: the field's name and the reason. */
export interface FieldProblem<F extends string = string> {
  field: F;
  reason: string;
}
