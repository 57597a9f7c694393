/**
 * The one sentence a person needs when a port is taken: which port, which
 * variable moves it, and the likely cause.
 */
export function portInUseMessage(what: string, host: string, port: number, variable: string): string {
  return `${what} cannot listen on ${host}:${port}: the port is in use. Is another Keyward running? Stop it, or choose another port with ${variable}`;
}

/** Whether a listen error means the address is taken (Node's EADDRINUSE, or grpc-js's bind failure). */
export function isAddressInUse(error: unknown): boolean {
  if ((error as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE") return true;
  // grpc-js reports a taken port only as "No address added out of total N resolved".
  return error instanceof Error && /No address added out of total/.test(error.message);
}
