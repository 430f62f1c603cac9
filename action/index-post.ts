// Entry point of the post step (dist/post.mjs). Ends by itself, as main does.
import { runPost } from "./post.js";

await runPost();
