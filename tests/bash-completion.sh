#!/bin/bash
# bash-completion.sh: docs/imgxfer.bash-completion completes imgxfer's
# commands and a command's options
#   bash-completion.sh IMGXFER COMPLETION_FILE
set -euo pipefail
imgxfer=$1
# shellcheck disable=SC1090
source "$2"

complete_line() {
  read -r -a COMP_WORDS <<< "$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _imgxfer "$imgxfer" "${COMP_WORDS[COMP_CWORD]}" ""
  echo "${COMPREPLY[*]}"
}
expect() {
  local got
  got=$(complete_line "$1")
  [[ " $got " == *" $2 "* ]] || { echo "'$1': expected $2, got: $got"; exit 1; }
}

expect "imgxfer conv" convert
expect "imgxfer tick" ticket
expect "imgxfer convert --mem" --member=
expect "imgxfer convert -p --target-is" --target-is-zero
expect "imgxfer checksum --list" --list-algorithms
expect "imgxfer serve --control-" --control-socket=
[ -z "$(complete_line "imgxfer convert --nosuchoption")" ] || exit 1
echo "completion OK"
