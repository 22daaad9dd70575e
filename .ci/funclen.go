//go:build ignore

// Command funclen lists the functions of the given Go files longer than
// -max lines (doc comment excluded) and exits 1 if there are any, unless
// the line before the function says why ("// long: …").
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
)

func main() {
	max := flag.Int("max", 60, "the most lines a function may take")
	flag.Parse()
	fset := token.NewFileSet()
	over := 0
	for _, path := range flag.Args() {
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > *max && !excused(fn) {
				fmt.Printf("%s:%d: %s is %d lines (at most %d)\n", path, start.Line, fn.Name.Name, n, *max)
				over++
			}
		}
	}
	if over > 0 {
		os.Exit(1)
	}
}

func excused(fn *ast.FuncDecl) bool {
	return fn.Doc != nil && strings.Contains(fn.Doc.Text(), "long: ")
}
