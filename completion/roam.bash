# bash completion for roam(8): commands, each command's options, and
# interface names (the UAPI sockets in /var/run/wireguard, the files in
# /etc/wireguard) where a command takes one. Installed by `make install`.

# Where the names come from (variables so a test can point them elsewhere).
_roam_socket_dir=/var/run/wireguard
_roam_config_dir=/etc/wireguard

_roam_interfaces()
{
	local f names=()
	for f in "$_roam_socket_dir"/*.sock; do
		[[ -S $f ]] && names+=("$(basename "$f" .sock)")
	done
	# /etc/wireguard is root's: unreadable to others, which is fine.
	for f in "$_roam_config_dir"/*.conf; do
		[[ -e $f ]] && names+=("$(basename "$f" .conf)")
	done
	printf '%s\n' "${names[@]}" | sort -u
}

_roam()
{
	local cur prev cmd opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local commands="genkey pubkey genpsk audit up down show events metrics reresolve doctor help"

	if ((COMP_CWORD == 1)); then
		mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
		return
	fi
	cmd=${COMP_WORDS[1]}
	# "--compat=VALUE": readline splits at '=' (COMP_WORDBREAKS), so the
	# option is one or two words back.
	if [[ $prev == --compat || ($prev == = && ${COMP_WORDS[COMP_CWORD - 2]} == --compat) ]]; then
		[[ $cur == = ]] && cur=""
		mapfile -t COMPREPLY < <(compgen -W "prometheus_wireguard_exporter" -- "$cur")
		return
	fi
	case $prev in
	--config)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--probe | --dns | --wait | --skip | --listen | --after)
		return ;;
	esac
	case $cmd in
	help)
		((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		return ;;
	audit)
		opts="--json --skip --help" ;;
	up | down)
		opts="--help"
		[[ $cmd == up ]] && opts="--no-dns --help"
		if [[ $cur != -* ]]; then
			# An interface name, or a file (IFNAME.conf anywhere).
			mapfile -t COMPREPLY < <(compgen -W "$(_roam_interfaces)" -- "$cur"; compgen -f -X '!*.conf' -- "$cur"; compgen -d -S / -- "$cur")
			compopt -o nospace 2>/dev/null
			[[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} != */ ]] && compopt +o nospace 2>/dev/null
			return
		fi ;;
	show)
		opts="--json --help" ;;
	metrics)
		opts="--openmetrics --compat=prometheus_wireguard_exporter --config --listen --help" ;;
	reresolve)
		opts="--force --help" ;;
	events)
		opts="--no-follow --new --after --help" ;;
	doctor)
		opts="--json --config --probe --dns --wait --help" ;;
	*)
		opts="--help" ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	elif [[ $cmd == audit ]]; then
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	elif [[ $cmd =~ ^(show|events|metrics|reresolve|doctor)$ ]]; then
		# One interface: none offered once a word names it.
		local i w
		for ((i = 2; i < COMP_CWORD; i++)); do
			w=${COMP_WORDS[i]}
			[[ $w == -* || $w == = || ${COMP_WORDS[i - 1]} =~ ^(--config|--probe|--dns|--wait|--listen|--after|=)$ ]] && continue
			return
		done
		mapfile -t COMPREPLY < <(compgen -W "$(_roam_interfaces)" -- "$cur")
	fi
}
complete -F _roam roam
