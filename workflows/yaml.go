package workflows

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlLine finds the line number in yaml.v3's syntax error messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseYAML parses src into its document node. A file must hold exactly one
// document, a mapping.
func parseYAML(file string, src []byte) (*yaml.Node, error) {
	docs, err := parseDocs(src, 2)
	if err != nil {
		return nil, syntaxError(file, src, err)
	}
	switch {
	case len(docs) == 0 || len(docs[0].Content) != 1:
		return nil, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "empty workflow file"}
	case len(docs) > 1:
		return nil, &Error{Pos: Pos{File: file, Line: docs[1].Line, Col: docs[1].Column},
			Msg: "a workflow file holds one YAML document; found a second one"}
	}
	return docs[0].Content[0], nil
}

// parseDocs parses up to max YAML documents of src.
func parseDocs(src []byte, max int) (docs []*yaml.Node, err error) {
	defer func() {
		// yaml.v3 reports syntax errors by panicking internally; guard against a
		// malformed input reaching a panic it does not recover itself.
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for len(docs) < max {
		var doc yaml.Node
		if err := dec.Decode(&doc); err == io.EOF {
			return docs, nil
		} else if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
	return docs, nil
}

// syntaxError converts a yaml.v3 syntax error into an *Error. yaml.v3 gives no column
// and its line is often that of the enclosing block (or one before it, or none on the
// first line); for files of reasonable size the line is found instead as the first
// one at which the same error appears.
func syntaxError(file string, src []byte, err error) *Error {
	line, msg := splitYAMLError(err)
	if l, ok := firstFailingLine(src, msg, line); ok {
		line = l
	}
	return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + oneLine(msg)}
}

// splitYAMLError returns the line yaml.v3 gives in err (1 when none) and the message
// without it.
func splitYAMLError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return max(line, 1), msg[len(m[0]):]
	}
	return 1, strings.TrimPrefix(msg, "yaml: ")
}

// maxSyntaxSearch bounds the files whose syntax error line is searched for.
const maxSyntaxSearch = 64 << 10

// firstFailingLine returns the first line k such that the first k lines of src fail
// to parse with message msg. The search starts at line from, the one yaml.v3 gave:
// the error is never before it.
func firstFailingLine(src []byte, msg string, from int) (int, bool) {
	if len(src) > maxSyntaxSearch {
		return 0, false
	}
	end := 0
	for k := 1; end < len(src); k++ {
		if i := bytes.IndexByte(src[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(src)
		}
		if k < from {
			continue
		}
		if _, err := parseDocs(src[:end], math.MaxInt); err != nil {
			if _, m := splitYAMLError(err); m == msg {
				return k, true
			}
		}
	}
	return 0, false
}
