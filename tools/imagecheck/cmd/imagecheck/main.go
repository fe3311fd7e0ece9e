// Command imagecheck lints the Dockerfiles and compose.yaml of the repository (COPY sources,
// build args of every builder, the shipped binary against ENTRYPOINT, HEALTHCHECK and the ECS
// health checks) and prints one line per problem; exit status 1 when there is any.
//
//	go run ./cmd/imagecheck [-root DIR]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gift-platform/ecs-sre-gift-worker/tools/imagecheck"
)

func main() {
	root := flag.String("root", "../..", "repository root")
	flag.Parse()
	problems, err := imagecheck.Lint(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagecheck:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		fmt.Printf("imagecheck: %d problem(s)\n", len(problems))
		os.Exit(1)
	}
	fmt.Println("imagecheck: Dockerfiles, their builders and compose.yaml agree with the repository")
}
