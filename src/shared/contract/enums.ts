import type { DescEnum } from "@bufbuild/protobuf";
import {
  ExportMailStateSchema,
  type ExportResource,
  ExportResourceSchema,
  type ExportState,
  ExportStateSchema,
} from "../../gen/keyward/v1/export_pb.js";
import {
  type KeyStatus,
  KeyStatusSchema,
  type Permission,
  PermissionSchema,
  type RefillInterval,
  RefillIntervalSchema,
} from "../../gen/keyward/v1/key_pb.js";
import { type Granularity, GranularitySchema } from "../../gen/keyward/v1/usage_pb.js";
import { type VerifyCode, VerifyCodeSchema } from "../../gen/keyward/v1/verify_pb.js";
import {
  EXPORT_MAIL_STATE_WORDS,
  EXPORT_RESOURCE_WORDS,
  EXPORT_STATE_WORDS,
  type ExportResourceWord,
  type ExportStateWord,
  GRANULARITY_WORDS,
  type GranularityWord,
  KEY_STATUS_WORDS,
  type KeyStatusWord,
  PERMISSION_WORDS,
  type PermissionWord,
  REFILL_INTERVAL_WORDS,
  type RefillIntervalWord,
  VERIFY_CODE_WORDS,
  type VerifyCodeWord,
} from "./words.js";

export * from "./words.js";

/**
 * Enum values as the gateway's JSON spells them (the word lists live in
 * words.ts, which the CLI loads without the protobuf descriptors): the proto
 * name without its shared prefix, in lower case.
 */
interface EnumWords<W extends string> {
  /** The word of a value; null for UNSPECIFIED or a number this build does not know. */
  word(value: number): W | null;
  value(word: W): number;
}

function enumWords<W extends string>(schema: DescEnum, words: readonly W[]): EnumWords<W> {
  const prefix = schema.sharedPrefix ?? "";
  const byNumber = new Map<number, W>();
  const byWord = new Map<W, number>();
  for (const v of schema.values) {
    const word = v.name.slice(prefix.length).toLowerCase() as W;
    if (!words.includes(word)) continue; // UNSPECIFIED
    byNumber.set(v.number, word);
    byWord.set(word, v.number);
  }
  // A word list out of step with the proto is a programming error: fail at load, not per request.
  for (const w of words) if (!byWord.has(w)) throw new Error(`${schema.typeName} has no value for "${w}"`);
  return {
    word: (value) => byNumber.get(value) ?? null,
    value: (word) => byWord.get(word) as number,
  };
}

export const permissionWords = enumWords(PermissionSchema, PERMISSION_WORDS);
export const keyStatusWords = enumWords(KeyStatusSchema, KEY_STATUS_WORDS);
export const verifyCodeWords = enumWords(VerifyCodeSchema, VERIFY_CODE_WORDS);
export const exportStateWords = enumWords(ExportStateSchema, EXPORT_STATE_WORDS);
export const exportResourceWords = enumWords(ExportResourceSchema, EXPORT_RESOURCE_WORDS);
export const exportMailStateWords = enumWords(ExportMailStateSchema, EXPORT_MAIL_STATE_WORDS);
export const granularityWords = enumWords(GranularitySchema, GRANULARITY_WORDS);
export const refillIntervalWords = enumWords(RefillIntervalSchema, REFILL_INTERVAL_WORDS);

/** Typed shorthands for the request builders. */
export const toPermission = (w: PermissionWord) => permissionWords.value(w) as Permission;
export const toKeyStatus = (w: KeyStatusWord) => keyStatusWords.value(w) as KeyStatus;
export const toVerifyCode = (w: VerifyCodeWord) => verifyCodeWords.value(w) as VerifyCode;
export const toExportState = (w: ExportStateWord) => exportStateWords.value(w) as ExportState;
export const toExportResource = (w: ExportResourceWord) => exportResourceWords.value(w) as ExportResource;
export const toGranularity = (w: GranularityWord) => granularityWords.value(w) as Granularity;
export const toRefillInterval = (w: RefillIntervalWord) => refillIntervalWords.value(w) as RefillInterval;
