// Files sent into a sandbox travel as base64 (SandboxFusion's wire format, and the local fork server's).
export function toBase64(value: string | Uint8Array): string {
  return typeof value === 'string' ? Buffer.from(value, 'utf8').toString('base64') : Buffer.from(value).toString('base64');
}
