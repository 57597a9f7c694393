/**
 * The scopes that make a key a console key (SPEC §4). Kept apart from auth.ts
 * so that the CLI's bootstrap can name them without loading tRPC.
 */
export const ADMIN_SCOPE = "console:admin";
export const MEMBER_SCOPE = "console:member";
