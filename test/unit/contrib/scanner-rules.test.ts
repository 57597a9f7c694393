import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateToken, isWellFormedToken } from "../../../src/service/keys/token.js";

/**
 * The scanner rules in contrib/: their regular expression (RE2 syntax, the
 * subset JS shares here) finds real Keyward tokens in the places they leak
 * and misses the near misses; their entropy filter lets real tokens through.
 */
const ROOT = join(import.meta.dirname, "../../..");
const gitleaks = readFileSync(join(ROOT, "contrib/gitleaks.toml"), "utf8");
const trufflehog = readFileSync(join(ROOT, "contrib/trufflehog-keyward.yaml"), "utf8");

const gitleaksSource = /^regex = '''(.+)'''$/m.exec(gitleaks)?.[1] as string;
const gitleaksEntropy = Number(/^entropy = ([\d.]+)$/m.exec(gitleaks)?.[1]);
const trufflehogSource = /^\s+token: '(.+)'$/m.exec(trufflehog)?.[1] as string;

/** Shannon entropy in bits per character, as gitleaks computes it over the secret. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length);
  return bits;
}

function findAll(source: string, text: string): string[] {
  return [...text.matchAll(new RegExp(source, "g"))].map((m) => m[1] as string);
}

describe("contrib scanner rules", () => {
  it("both files carry the same expression", () => {
    expect(gitleaksSource).toBe("\\b(kw_[0-9A-Za-z]{38})\\b");
    expect(trufflehogSource).toBe(gitleaksSource);
  });

  const tokens = Array.from({ length: 300 }, () => generateToken("kw"));

  it("finds every real token where tokens leak, exactly, above the entropy line", () => {
    for (const token of tokens) {
      expect(isWellFormedToken(token)).toBe(true);
      for (const context of [
        token,
        `KEYWARD_TOKEN=${token}`,
        `export KEYWARD_TOKEN="${token}"`,
        `{"apiKey":"${token}"}`,
        `Authorization: Bearer ${token}\n`,
        `curl -H 'x-api-key: ${token}' https://api.example.com`,
        `key = '${token}' # prod`,
        `https://example.com/?key=${token}&x=1`,
      ]) {
        expect(findAll(gitleaksSource, context)).toEqual([token]);
      }
      expect(entropy(token)).toBeGreaterThan(gitleaksEntropy);
    }
    expect(findAll(gitleaksSource, tokens.slice(0, 3).join("\n"))).toEqual(tokens.slice(0, 3));
  });

  it("misses the near misses", () => {
    const token = tokens[0] as string;
    const body = token.slice(3);
    const misses = [
      token.slice(0, -1), // 37 characters
      `${token}A`, // 39 characters
      `kx_${body}`, // another prefix
      `KW_${body}`, // case matters
      `kw-${body}`,
      `kw${body}`,
      `kw_${body.slice(0, 10)}+${body.slice(11)}`, // not base62
      `kw_${body.slice(0, 10)}-${body.slice(11)}`,
      `xkw_${body}`, // glued to a word
      `my_kw_${body}`,
      `${token}_suffix`,
      "kw_",
    ];
    for (const miss of misses) expect(findAll(gitleaksSource, miss), miss).toEqual([]);
  });

  it("the entropy line drops filler of the right shape", () => {
    for (const filler of ["kw_00000000000000000000000000000000000000", "kw_abababababababababababababababababab12"]) {
      expect(findAll(gitleaksSource, filler)).toEqual([filler]);
      expect(entropy(filler)).toBeLessThan(gitleaksEntropy);
    }
  });

  it("a wrong checksum has the shape; VerifyKey's check is what refuses it", () => {
    const token = tokens[1] as string;
    const last = token.at(-1) === "0" ? "1" : "0";
    const mistyped = `${token.slice(0, -1)}${last}`;
    expect(findAll(gitleaksSource, mistyped)).toEqual([mistyped]);
    expect(isWellFormedToken(mistyped)).toBe(false);
  });
});
