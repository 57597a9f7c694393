import { databaseForThisFile } from "../../support/postgres.js";
import { sealedSecretsSuite } from "./sealed-secrets-suite.js";

const database = databaseForThisFile();
sealedSecretsSuite("PostgreSQL", database);
