import { Option } from 'commander';

/**
 * What a `hub` command prints on stdout: its human lines, or with --json one JSON document (the
 * command's result) instead, for scripts. Failures are not output: they are one line on stderr
 * either way (cliErrors.ts).
 */

let json = false;

/** The --json option of a command that prints results. */
export const jsonOption = () => new Option('--json', 'print the result as one JSON document instead of text');

/** Set once per run by the CLI, from the command's --json. */
export function useJson(on: boolean): void {
  json = on;
}

/** A line of the human report; nothing with --json. */
export function say(line: string): void {
  if (!json) console.log(line);
}

/** The command's result: the whole of stdout with --json, nothing otherwise (its lines were said). */
export function result(value: unknown): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
