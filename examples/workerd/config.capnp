# workerd config for worker.mjs. Serve the directory that build.mjs lays out (worker.js,
# fairy2i.wasm, model.gguf beside this file):
#   node examples/workerd/build.mjs MODEL.gguf OUT_DIR
#   npx workerd serve OUT_DIR/config.capnp --socket-addr http=127.0.0.1:8787
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    # Compiled by workerd when it loads this config: the worker never compiles wasm from bytes.
    (name = "fairy2i.wasm", wasm = embed "fairy2i.wasm"),
    (name = "model.gguf", data = embed "model.gguf"),
  ],
  compatibilityDate = "2025-09-01",
);
