/** One line of COPY text format: tab-separated, \N for null, bytea as escaped hex. */
export function copyLine(values: (string | number | boolean | Buffer | null)[]): string {
  return values.map(copyValue).join('\t') + '\n';
}

export function copyValue(value: string | number | boolean | Buffer | null): string {
  if (value === null) return '\\N';
  if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
  if (typeof value === 'string') return value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
  return String(value);
}
