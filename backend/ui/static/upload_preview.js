// The uploaded drawing as the server reads it: POST /search/preview renders any accepted upload (TIFF
// included, which browsers cannot show) as a PNG, with the same limits and errors as a search.

import { call } from "./api.js";

let current = null;   // {token, url}
let counter = 0;

/**
 * Show `file` in `img` (rendered by the server, longer side 1600 px). Resolves to the PNG's object URL (for
 * the compare view; null when another file replaced it meanwhile), or rejects with the server's problem
 * (an ApiError) when it cannot read the file.
 */
export async function renderUpload(file, img) {
  const token = ++counter;
  img.dataset.state = "loading";
  const form = new FormData();
  form.append("image", file, file.name || "drawing");
  let url;
  try {
    const response = await call("POST", "/search/preview?w=1600", { form, accept: "image/png" });
    url = URL.createObjectURL(await response.blob());
  } catch (err) {
    if (token !== counter) return null;   // stale: another file was chosen, or the drawing removed
    img.dataset.state = "broken";
    throw err;
  }
  if (token !== counter) {   // another file was chosen meanwhile
    URL.revokeObjectURL(url);
    return null;
  }
  if (current) URL.revokeObjectURL(current.url);
  current = { token, url };
  img.addEventListener("load", () => { img.dataset.state = "loaded"; }, { once: true });
  img.src = url;
  return url;
}

/** Forget the shown preview (the drawing was removed). */
export function forgetUpload() {
  counter += 1;
  if (current) URL.revokeObjectURL(current.url);
  current = null;
}
