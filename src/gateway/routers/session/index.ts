import { router } from "../../trpc.js";
import { signIn } from "./sign-in.js";
import { signOut } from "./sign-out.js";

/** session.*: the console's cookie sign-in (`me` says who is signed in). */
export const sessionRouter = router({ signIn, signOut });
