# The speech tools the local transcription tests use: espeak-ng speaks the test sentences into
# WAV files and sox converts them to other formats, rates and sample widths.
# Source this file, then call ensure_speech_tools; it installs them from Debian packages when
# missing and we are root.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

ensure_speech_tools() {
  local missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox)
  [ ${#missing[@]} -eq 0 ] || apt_install "speech tools" "${missing[@]}"
}
