#!/usr/bin/env bash
# Tools the private-dependencies Docker suite (tests/docker/private-deps.spec.ts) serves a git
# repository over SSH with: sshd (openssh-server; run by the test on 127.0.0.1 with its own config,
# key-only), ssh, ssh-agent, ssh-add, ssh-keygen (openssh-client) and git. Idempotent: installs
# only what is missing; never starts or leaves a system sshd running.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-agent >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -eq 0 ]; then
  log "ssh tools present (sshd, ssh-agent, ssh-keygen, git)"
  exit 0
fi
apt_install "${missing[@]}" || die "Could not install ${missing[*]}: install them (as root on Debian: apt-get install -y ${missing[*]})."
# Without a policy-rc.d, openssh-server's postinst starts a system sshd on :22. We just installed
# it, so that service is ours to stop: the suite runs its own sshd on loopback.
if [[ " ${missing[*]} " == *" openssh-server "* ]] && [ -x /etc/init.d/ssh ]; then
  /etc/init.d/ssh stop >/dev/null 2>&1 || true
fi
log "installed ${missing[*]}"
