import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../gateway/harness.js";
import { runCliInProcess } from "./run-cli.js";

let h: Harness;
let admin: { id: string; token: string };
let member: { id: string; token: string };
beforeAll(async () => {
  h = await startHarness();
  admin = await h.consoleKey("admin", "ana@example.com");
  member = await h.consoleKey("member", "mo@example.com");
});
afterAll(async () => {
  await h.close();
});

const run = (argv: string[], token: string) =>
  runCliInProcess(argv, false, { KEYWARD_URL: h.url, KEYWARD_TOKEN: token });

it("keyward audit shows who acted and with which key", async () => {
  const { key } = await h.client(admin.token).keys.create.mutate({ name: "audited" });
  const r = await run(["audit", "--key", key.id], admin.token);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/ACTOR\s+ACTING KEY/);
  expect(r.stdout).toContain(`ana@example.com  ${admin.id}`);
});

it("keyward exports get gives admins the download link of a ready export, members none", async () => {
  const created = await h.client(admin.token).exports.create.mutate({ resource: "api_keys" });
  const id = created.export.id;
  const asAdmin = await run(["exports", "get", id], admin.token);
  expect(asAdmin.code).toBe(0);
  expect(asAdmin.stdout).toMatch(/Download\s+http:\/\/.*\/exports\//);
  const asMember = await run(["exports", "get", id], member.token);
  expect(asMember.stdout).toMatch(/Download\s+-/);
});
