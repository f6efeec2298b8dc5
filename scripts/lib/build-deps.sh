# Makes sure the tools that build llama.cpp (vendored by the llama-cpp-2 crate) are present:
# CMake, a C/C++ compiler, and libclang for its bindings. Installs them from Debian packages
# when they are missing and we are root. Source this file, then call ensure_build_deps.

ensure_build_deps() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  # bindgen loads libclang at build time.
  ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 \
    || missing+=(libclang-dev)
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "build tools: installing ${missing[*]} from Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "build tools: missing ${missing[*]} (install them, e.g. apt-get install ${missing[*]})" >&2
    return 1
  fi
}
