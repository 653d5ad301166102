#!/bin/sh
# make demo: keyhole's main job, offline.  A stand-in LLM API runs on
# 127.0.0.1 over HTTPS; an "agent" script runs under `keyhole run` with a
# credential route to it and tries what an agent should not be able to do.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
keyhole=${KEYHOLE:-$here/build/keyhole}
# Not under /tmp: the default policy lets a sandbox write to /tmp.
case "$here/" in
/tmp/*|"${TMPDIR:-/tmp}"/*) base=/var/tmp ;;
*) base="$here/build" ;;
esac
mkdir -p "$base"
tmp=$(mktemp -d "$base/keyhole-demo.XXXXXX")
llm_pid=
cleanup() {
	[ -n "$llm_pid" ] && kill "$llm_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A test CA and a certificate for llm.test, made on the fly.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=keyhole demo CA" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=llm.test" \
    -keyout "$tmp/llm.key" -out "$tmp/llm.csr" 2>/dev/null
printf 'subjectAltName=DNS:llm.test\n' > "$tmp/san.ext"
openssl x509 -req -in "$tmp/llm.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 1 -extfile "$tmp/san.ext" -out "$tmp/llm.pem" \
    2>/dev/null

# The real key exists only here, in the supervisor's environment.
DEMO_REAL_KEY=sk-demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export DEMO_REAL_KEY
python3 "$here/scripts/demo_llm.py" "$tmp/llm.pem" "$tmp/llm.key" \
    > "$tmp/llm.port" &
llm_pid=$!
i=0
while [ ! -s "$tmp/llm.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
port=$(cat "$tmp/llm.port")

# A home with a secret, a work directory, and a profile with the route.
mkdir -p "$tmp/home/.ssh" "$tmp/work"
echo "-----BEGIN DEMO PRIVATE KEY-----" > "$tmp/home/.ssh/id_demo"
cat > "$tmp/demo-profile.json" <<JSON
{
  "meta": { "name": "demo" },
  "network": {
    "credentials": [ "llm" ],
    "allow_domain": [ "docs.python.org" ],
    "custom_credentials": {
      "llm": {
        "upstream": "https://llm.test:$port",
        "credential_key": "env://DEMO_REAL_KEY",
        "env_var": "LLM_API_KEY",
        "endpoint_rules": [ { "method": "POST", "path": "/v1/chat" } ]
      }
    }
  }
}
JSON

cat > "$tmp/work/agent.sh" <<'AGENT'
#!/bin/sh
# The "agent": everything it tries, one line each.
say() { printf '  %-58s %s\n' "$1" "$2"; }
if cat "$HOME/.ssh/id_demo" >/dev/null 2>&1; then
	say "read ~/.ssh/id_demo" "READ (bad)"
else
	say "read ~/.ssh/id_demo" "denied by Landlock"
fi
if (echo x > "$HOME/outside.txt") 2>/dev/null; then
	say "write outside the work directory" "WRITTEN (bad)"
else
	say "write outside the work directory" "denied by Landlock"
fi
echo notes > notes.txt && say "write inside the work directory" "ok"
code=$(curl -s -o /dev/null -w '%{http_connect}' https://evil.example/ 2>/dev/null)
say "curl https://evil.example (not in the allow-list)" "proxy says $code"
if curl -s --noproxy '*' --max-time 3 "https://127.0.0.1:$LLM_PORT/" \
    >/dev/null 2>&1; then
	say "curl --noproxy '*' straight to 127.0.0.1:$LLM_PORT" "CONNECTED (bad)"
else
	say "curl --noproxy '*' straight to 127.0.0.1:$LLM_PORT" \
	    "refused by the kernel"
fi
reply=$(curl -s -X POST -H "Authorization: Bearer $LLM_API_KEY" \
    -H 'Content-Type: application/json' -d '{"q":"hi"}' \
    "$LLM_BASE_URL/v1/chat")
say "POST \$LLM_BASE_URL/v1/chat with the phantom key" "$reply"
case "$LLM_API_KEY" in
sk-demo-*) say "the agent's LLM_API_KEY" "THE REAL KEY (bad)" ;;
*)	say "the agent's LLM_API_KEY" "a phantom: ${LLM_API_KEY%"${LLM_API_KEY#????????}"}..." ;;
esac
code=$(curl -s -o /dev/null -w '%{http_connect}' "https://llm.test:$LLM_PORT/v1/chat" 2>/dev/null)
say "CONNECT to the route's upstream llm.test:$LLM_PORT" "proxy says $code"
AGENT
chmod +x "$tmp/work/agent.sh"

echo "keyhole demo: an agent under 'keyhole run' with a credential route"
echo "to a stand-in LLM API on https://llm.test:$port (127.0.0.1)"
echo
cd "$tmp/work"
HOME="$tmp/home" LLM_PORT=$port "$keyhole" run --silent \
    --profile "$tmp/demo-profile.json" --allow-cwd \
    --upstream-ca "$tmp/ca.pem" --resolve "llm.test:$port:127.0.0.1" \
    -- ./agent.sh
