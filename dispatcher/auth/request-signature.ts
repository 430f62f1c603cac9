// Moved to dispatcher/protocol/request-signature.ts. This re-export is kept
// only for bench/context-upload.ts, which another change is editing: point its
// import at ../dispatcher/protocol/request-signature.js, then delete this file.
export * from "../protocol/request-signature.js";
