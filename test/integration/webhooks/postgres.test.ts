import { useTestDatabase } from "../../support/postgres.js";
import { webhookSuite } from "./webhook-suite.js";

const database = useTestDatabase();
webhookSuite("PostgreSQL", () => database().url);
