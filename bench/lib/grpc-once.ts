import http2 from "node:http2";
import { encodeVerifyRequest, grpcFrame, readVerifyCode, VERIFY_CODES, VERIFY_PATH } from "./wire.js";

export interface VerifyOnce {
  grpcStatus: string;
  code: string;
  /** The response message (without the gRPC prefix). */
  message: Buffer;
}

/** One VerifyKey call over raw HTTP/2, for setup checks; rejects after 5 s. */
export function verifyOnce(port: number, token: string, withContext: boolean): Promise<VerifyOnce> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error("VerifyKey probe timed out"));
    }, 5000);
    session.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const stream = session.request({
      ":method": "POST",
      ":path": VERIFY_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status = "";
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    stream.on("trailers", (t) => {
      if (t["grpc-status"] !== undefined) status = String(t["grpc-status"]);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", (error) => {
      clearTimeout(timer);
      session.destroy();
      reject(error);
    });
    stream.on("close", () => {
      clearTimeout(timer);
      session.close();
      const bytes = Buffer.concat(chunks);
      const message = bytes.length >= 5 ? bytes.subarray(5, 5 + bytes.readUInt32BE(1)) : Buffer.alloc(0);
      const code = readVerifyCode(message, 0, message.length);
      resolve({ grpcStatus: status, code: VERIFY_CODES[code] ?? String(code), message });
    });
    stream.end(grpcFrame(encodeVerifyRequest(token, withContext)));
  });
}
