// Command iaccheck runs the offline wiring and format checks of live/ against modules/ and prints
// the findings (exit status 1 when there are any).
//
//	go run ./cmd/iaccheck [-root DIR] [-fix]
//
// -fix rewrites the live/ files into canonical HCL format first (what `terragrunt hcl fmt` does).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gift-platform/ecs-sre-gift-worker/tools/iaccheck"
)

func main() {
	root := flag.String("root", "../..", "repository root (holding modules/ and live/)")
	fix := flag.Bool("fix", false, "format the live/ .hcl files before checking")
	flag.Parse()

	if *fix {
		changed, err := iaccheck.FormatLive(*root)
		if err != nil {
			fmt.Fprintln(os.Stderr, "iaccheck:", err)
			os.Exit(2)
		}
		for _, f := range changed {
			fmt.Println("formatted", f)
		}
	}
	findings, err := iaccheck.Check(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "iaccheck:", err)
		os.Exit(2)
	}
	units, _ := iaccheck.UnitCount(*root)
	for _, f := range findings {
		fmt.Println(f)
	}
	if len(findings) > 0 {
		fmt.Printf("iaccheck: %d finding(s) in %d units\n", len(findings), units)
		os.Exit(1)
	}
	fmt.Printf("iaccheck: %d units wired correctly to modules/, live/ formatted\n", units)
}
