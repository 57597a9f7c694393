import { sealedSecretsSuite } from "./sealed-secrets-suite.js";

sealedSecretsSuite("SQLite");
