# shellcheck shell=bash
# Sourced by the shell tests that start a program on a port they pick (contract/run.sh,
# apidoc/sandbox_test.sh). A port is free when picked, not when the program binds it: another
# test may take it first, and the program then exits. So a program is ready once it has said
# so in its log, not once something answers on the port, which could be the other test.

# free_port: a port no one listens on at the moment, on 127.0.0.1.
free_port() {
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_ready LOG TEXT PID: waits until LOG holds TEXT (a grep pattern), for 120 s at most.
# Returns 0 then, 1 when PID exited first, 2 when the time ran out.
wait_ready() {
    for _ in $(seq 1 480); do
        grep -q "$2" "$1" && return 0
        kill -0 "$3" 2>/dev/null || { grep -q "$2" "$1" && return 0; return 1; }
        sleep 0.25
    done
    return 2
}
