package workflows

// ParamType is the type of an action parameter, checked at load against literal values.
// Values that are templates are checked when the step runs.
type ParamType string

// Parameter types understood by load-time validation.
const (
	TypeString   ParamType = "string"
	TypeInt      ParamType = "int"
	TypeNumber   ParamType = "number"
	TypeBool     ParamType = "bool"
	TypeDuration ParamType = "duration" // a Go duration string such as "30s"
	TypeMap      ParamType = "map"
	TypeList     ParamType = "list"
	TypeStrings  ParamType = "strings" // a string or a list of strings
	TypeAny      ParamType = "any"
)

// Param describes one `with` parameter of an action.
type Param struct {
	Name     string
	Type     ParamType
	Required bool
	Enum     []string // allowed literal values, if any
	Doc      string
}

// ActionSpec describes the parameters an action accepts. The loader checks every
// step's `with` against it: unknown keys (unless Open), missing required keys, literal
// values of the wrong type or outside Enum are load errors.
type ActionSpec struct {
	Params []Param
	Open   bool // any key is accepted (the `set` action)
}

// Specs maps action names to their parameter specs. A step whose `uses` is not a key is
// a load error ("unknown action").
type Specs map[string]ActionSpec
