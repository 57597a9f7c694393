import type { KEY_STATUS_WORDS, PERMISSION_WORDS } from "../../shared/contract/words.js";

/** The flags that pick keys, as `keys list` and `exports create --resource api_keys` take them. */
export interface KeyFilterFlags {
  status?: (typeof KEY_STATUS_WORDS)[number];
  permission?: (typeof PERMISSION_WORDS)[number];
  subject?: string;
  domain?: string;
  name?: string;
}
