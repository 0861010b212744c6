// Uploaded drawings kept in this browser (IndexedDB), by a random id that the search's URL carries
// (?upload=…): reload, Back/Forward and a bookmark bring the drawing back without sending it anywhere.
// Another browser opening the link has no such drawing and is asked to upload it again.

const DB = "prism-uploads";
const STORE = "drawings";
const KEEP = 50;   // the newest drawings kept; older ones are dropped

function open() {
  return new Promise((resolve, reject) => {
    if (!window.indexedDB) { reject(new Error("this browser keeps no drawings (no IndexedDB)")); return; }
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function newId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);   // available on plain http too (crypto.subtle and randomUUID are not)
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function run(mode, work) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(result.result ?? result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  }));
}

/** Keep `file`; resolves to its id. */
export async function keepUpload(file) {
  const id = newId();
  const record = { id, name: file.name || "drawing", type: file.type || "application/octet-stream",
                   blob: file, at: Date.now() };
  await run("readwrite", (store) => {
    store.put(record);
    const all = store.getAll();
    all.onsuccess = () => {
      const old = all.result.sort((a, b) => b.at - a.at).slice(KEEP);
      for (const r of old) store.delete(r.id);
    };
    return {};
  });
  return id;
}

/** The File kept under `id`, or null. */
export async function loadUpload(id) {
  const record = await run("readonly", (store) => store.get(id)).catch(() => null);
  if (!record || !record.blob) return null;
  return new File([record.blob], record.name, { type: record.type });
}
