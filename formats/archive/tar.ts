// tar archives: a streaming ustar + pax writer and a reader for ustar, pax, GNU (sparse too), v7.
// The codec lives in tar_header.ts (one header block), tar_pax.ts, tar_sparse.ts, tar_writer.ts
// and tar_reader.ts; this module is the one name importers use.

export { tarStream } from "./tar_writer.ts";
export { readTar } from "./tar_reader.ts";
