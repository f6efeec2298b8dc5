# Starts a local S3-compatible server (moto, from PyPI) on a free loopback port for the blob
# store tests. Source this file, then call start_s3 PYTHON; it exports ASSAY_TEST_S3_ENDPOINT,
# ASSAY_TEST_S3_BUCKET and test credentials.

start_s3() {
  local python=$1
  if [ -n "${ASSAY_TEST_S3_ENDPOINT:-}" ]; then
    echo "s3: using ASSAY_TEST_S3_ENDPOINT from the environment"
    return 0
  fi
  local port
  port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ASSAY_S3_LOG=$(mktemp /tmp/assay-s3.XXXXXX.log)
  "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$ASSAY_S3_LOG" 2>&1 &
  ASSAY_S3_PID=$!
  local endpoint="http://127.0.0.1:$port"
  # Wait until it answers (creating the bucket is the readiness probe), at most 30 s.
  local i
  for i in $(seq 1 300); do
    if "$python" - "$endpoint" <<'PY' 2>/dev/null
import sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/assay-test", method="PUT")
urllib.request.urlopen(req, timeout=2)
PY
    then
      export ASSAY_TEST_S3_ENDPOINT=$endpoint ASSAY_TEST_S3_BUCKET=assay-test
      export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
      echo "s3: started on $endpoint"
      return 0
    fi
    if ! kill -0 "$ASSAY_S3_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "s3: the local S3 server did not start" >&2
  cat "$ASSAY_S3_LOG" >&2
  return 1
}

stop_s3() {
  if [ -n "${ASSAY_S3_PID:-}" ]; then
    kill "$ASSAY_S3_PID" 2>/dev/null || true
    wait "$ASSAY_S3_PID" 2>/dev/null || true
    rm -f "$ASSAY_S3_LOG"
  fi
}
