import { databaseForThisFile } from "../../support/postgres.js";
import { webhookSuite } from "./webhook-suite.js";

const database = databaseForThisFile();
webhookSuite("PostgreSQL", () => database().url);
