# Makes sure the tools that build llama.cpp (vendored by the llama-cpp-2 crate) are present:
# CMake, a C and a C++ compiler, and libclang with clang's builtin headers for its bindings.
# Installs them from Debian packages when they are missing and we are root. Source this file,
# then call ensure_build_deps.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

# True when bindgen can load libclang. Its loader (clang-sys) accepts `libclang.so`,
# `libclang.so.N` and `libclang-N.so[.M]` in LIBCLANG_PATH, `llvm-config --libdir` and the
# system library directories; `libclang-cpp.so*` is the C++ API library, a different one that
# many machines carry without libclang. Parsing llama.cpp's headers also takes clang's own
# builtin headers (stddef.h, …), which Debian ships apart from the library (libclang-common-N-dev).
have_libclang() {
  local dirs=() dir lib found=
  [ -n "${LIBCLANG_PATH:-}" ] && dirs+=("${LIBCLANG_PATH%/libclang*}")
  command -v llvm-config >/dev/null && dirs+=("$(llvm-config --libdir 2>/dev/null)")
  dirs+=(/usr/lib/llvm-*/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib)
  for dir in "${dirs[@]}"; do
    for lib in "$dir"/libclang.so "$dir"/libclang.so.* "$dir"/libclang-[0-9]*.so*; do
      [ -e "$lib" ] && { found=1; break 2; }
    done
  done
  [ -n "$found" ] || return 1
  compgen -G '/usr/lib/llvm-*/lib/clang/*/include/stddef.h' >/dev/null \
    || compgen -G '/usr/lib/clang/*/include/stddef.h' >/dev/null \
    || compgen -G '/usr/local/lib/clang/*/include/stddef.h' >/dev/null
}

ensure_build_deps() {
  local missing=()
  # The cmake crate runs `cmake`; it and the cc crate compile with `cc` and `c++`.
  command -v cmake >/dev/null || missing+=(cmake)
  command -v cc >/dev/null || missing+=(gcc)
  command -v c++ >/dev/null || missing+=(g++)
  have_libclang || missing+=(libclang-dev)
  [ ${#missing[@]} = 0 ] && return 0
  apt_install "build tools" "${missing[@]}" || return 1
  if ! have_libclang; then
    echo "build tools: libclang-dev is installed but no libclang.so with clang's headers was found;" \
      "set LIBCLANG_PATH to the directory holding libclang.so" >&2
    return 1
  fi
}
