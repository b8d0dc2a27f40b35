/** "503 circuit_open", "200 received_storage_pending": the status with the body's code or status. */
export function outcomeOf(status: number, body: string): string {
  const code = /"code":"(\w+)"/.exec(body)?.[1] ?? /"status":"(\w+)"/.exec(body)?.[1];
  return code === undefined ? String(status) : `${status} ${code}`;
}
