// ZPL on standard input -> PNG at OUT, drawn by zpl-renderer-js (Zebrash in WebAssembly),
// a renderer independent of ours: node render_zpl.mjs OUT.png WIDTH_MM HEIGHT_MM DPMM
import fs from "node:fs";
import { ready } from "zpl-renderer-js";

const [out, widthMm, heightMm, dpmm] = process.argv.slice(2);
if (!out || !widthMm || !heightMm || !dpmm) {
  console.error("usage: node render_zpl.mjs OUT.png WIDTH_MM HEIGHT_MM DPMM < label.zpl");
  process.exit(2);
}
const zpl = fs.readFileSync(0, "utf8");
const { api } = await ready;
const png = await api.zplToBase64Async(zpl, Number(widthMm), Number(heightMm), Number(dpmm));
fs.writeFileSync(out, Buffer.from(png, "base64"));
