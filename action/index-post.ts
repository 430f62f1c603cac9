// Entry point of the post step (dist/post.mjs).
import { runPost } from "./post.js";

await runPost();
process.exit();
