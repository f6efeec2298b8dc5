# The headless browser the web UI's end-to-end tests (tests/sdk/test_ui_browser.py) drive:
# Debian's Chromium and its WebDriver server, chromedriver, which Selenium is pointed at, so
# nothing is ever downloaded at test time.
# Source this file, then call ensure_browser; it installs them from Debian packages when
# missing and we are root.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

ensure_browser() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  [ ${#missing[@]} -eq 0 ] || apt_install browser "${missing[@]}"
}
