// Command echoserver is the server the network tests run in containers:
// it listens on the TCP and UDP ports of its arguments, on every address
// of both families, answers each connection and datagram with the address
// it came from (nettopo.AnswerTCP, AnswerUDP), and prints "ready" once it
// listens.
package main

import (
	"fmt"
	"net"
	"os"

	"github.com/corral-dev/corral/testutil/nettopo"
)

func main() {
	for _, p := range os.Args[1:] {
		ln, err := net.Listen("tcp", ":"+p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echoserver:", err)
			os.Exit(1)
		}
		pc, err := net.ListenPacket("udp", ":"+p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echoserver:", err)
			os.Exit(1)
		}
		go nettopo.AnswerTCP(ln)
		go nettopo.AnswerUDP(pc)
	}
	fmt.Println("ready")
	select {}
}
