import type { BenchResults } from "./lib/results.js";
export async function writeReport(_results: BenchResults): Promise<string[]> {
  return [];
}
