/**
 * Which grammar parses which file, and the tree-sitter queries that find definitions and imports in each
 * language. Queries capture `@name` + `@definition.<kind>` and `@import` + `@source` (identifier uses are found
 * lexically: see lexicalReferences in extract.ts).
 * (Verified on samples in ../shared/notes/treesitter-webgpu.md; the bundled tags.scm files miss imports.)
 */
export interface LanguageSpec {
  id: string;
  /** File name of the grammar's .wasm (looked up in the grammar directory). */
  wasm: string;
  definitions: string;
  prose: string;
  /**
   * Local variables: `@local` captures the names a declaration or assignment binds. With the parameters they hide
   * definitions of those names elsewhere inside the function (Definition.locals); outside every function they are the
   * module's (or a class's) variables and constants (FileRecord.variables). Run as part of the definitions query.
   */
  locals: string;
}

const JS_CORE = `
(function_declaration name: (_) @name) @definition.function
(generator_function_declaration name: (_) @name) @definition.function
(class_declaration name: (_) @name) @definition.class
(class name: (_) @name) @definition.class
(method_definition name: (_) @name) @definition.method
(lexical_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression) (generator_function)]) @definition.function)
(variable_declaration (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression) (generator_function)]) @definition.function)
(assignment_expression left: (member_expression property: (property_identifier) @name) right: [(arrow_function) (function_expression)]) @definition.function
(call_expression arguments: (arguments (function_expression name: (identifier) @name) @definition.function))
(import_statement source: (string (string_fragment) @source)) @import
(export_statement source: (string (string_fragment) @source)) @import
((call_expression function: (identifier) @_f arguments: (arguments . (string (string_fragment) @source))) @import (#eq? @_f "require"))
(call_expression function: (import) arguments: (arguments . (string (string_fragment) @source))) @import
`;

// Class fields holding a function (\`fetch = (request) => …\`, common in TypeScript classes) are methods.
const JS_EXTRA = `
(field_definition property: (_) @name value: [(arrow_function) (function_expression)]) @definition.method
`;

const TS_EXTRA = `
(public_field_definition name: (_) @name value: [(arrow_function) (function_expression)]) @definition.method
(function_signature name: (_) @name) @definition.function
(abstract_class_declaration name: (_) @name) @definition.class
(method_signature name: (_) @name) @definition.method
(abstract_method_signature name: (_) @name) @definition.method
(interface_declaration name: (_) @name) @definition.interface
(type_alias_declaration name: (_) @name) @definition.type
(enum_declaration name: (_) @name) @definition.enum
(internal_module name: (_) @name) @definition.module
(module name: (_) @name) @definition.module
(import_require_clause source: (string (string_fragment) @source)) @import
`;


const PYTHON = `
(class_definition name: (identifier) @name) @definition.class
(function_definition name: (identifier) @name) @definition.function
(class_definition body: (block (function_definition name: (identifier) @name) @definition.method))
(class_definition body: (block (decorated_definition definition: (function_definition name: (identifier) @name) @definition.method)))
(import_statement name: [(dotted_name) @source (aliased_import name: (dotted_name) @source)]) @import
(import_from_statement module_name: (_) @source) @import
`;

const GO = `
(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(type_spec name: (type_identifier) @name type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name type: (struct_type)) @definition.class
(type_spec name: (type_identifier) @name) @definition.type
(type_alias name: (type_identifier) @name) @definition.type
(method_elem name: (field_identifier) @name) @definition.method
(import_spec path: (_) @source) @import
`;

const RUST = `
(struct_item name: (type_identifier) @name) @definition.class
(union_item name: (type_identifier) @name) @definition.class
(enum_item name: (type_identifier) @name) @definition.enum
(trait_item name: (type_identifier) @name) @definition.interface
(type_item name: (type_identifier) @name) @definition.type
(impl_item body: (declaration_list (function_item name: (identifier) @name) @definition.method))
(trait_item body: (declaration_list [(function_item name: (identifier) @name) (function_signature_item name: (identifier) @name)] @definition.method))
(function_item name: (identifier) @name) @definition.function
(mod_item name: (identifier) @name) @definition.module
(macro_definition name: (identifier) @name) @definition.macro
(use_declaration argument: (_) @source) @import
(extern_crate_declaration name: (identifier) @source) @import
`;

const JAVA = `
(class_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(annotation_type_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(import_declaration [(scoped_identifier) (identifier)] @source) @import
`;

const C_COMMON = `
(struct_specifier name: (type_identifier) @name body: (_)) @definition.class
(union_specifier name: (type_identifier) @name body: (_)) @definition.class
(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum
(type_definition declarator: (type_identifier) @name) @definition.type
(preproc_function_def name: (identifier) @name) @definition.macro
(preproc_def name: (identifier) @name value: (_)) @definition.macro
(preproc_include path: (_) @source) @import
`;

const C = `(function_declarator declarator: (identifier) @name) @definition.function\n${C_COMMON}`;

const CPP = `
(function_declarator declarator: [(identifier) (field_identifier) (qualified_identifier) (destructor_name) (operator_name)] @name) @definition.function
${C_COMMON}
(class_specifier name: (_) @name body: (_)) @definition.class
(alias_declaration name: (type_identifier) @name) @definition.type
(namespace_definition name: (_) @name) @definition.module
`;

const CSHARP = `
(class_declaration name: (identifier) @name) @definition.class
(struct_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(interface_declaration name: (identifier) @name) @definition.interface
(enum_declaration name: (identifier) @name) @definition.enum
(delegate_declaration name: (identifier) @name) @definition.type
(method_declaration name: (identifier) @name) @definition.method
(constructor_declaration name: (identifier) @name) @definition.method
(property_declaration name: (identifier) @name) @definition.method
(namespace_declaration name: (_) @name) @definition.module
(file_scoped_namespace_declaration name: (_) @name) @definition.module
(using_directive [(qualified_name) (identifier)] @source) @import
`;

// Ruby: \`def\` at the top level is a method of Object; it keeps the method kind. \`class A::B\` is named B.
const RUBY = `
(class name: (constant) @name) @definition.class
(class name: (scope_resolution name: (constant) @name)) @definition.class
(module name: (constant) @name) @definition.module
(module name: (scope_resolution name: (constant) @name)) @definition.module
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method
((call method: (identifier) @_f arguments: (argument_list . (string (string_content) @source))) @import (#match? @_f "^(require|require_relative|load)$"))
`;

const PHP = `
(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.interface
(trait_declaration name: (name) @name) @definition.interface
(enum_declaration name: (name) @name) @definition.enum
(method_declaration name: (name) @name) @definition.method
(function_definition name: (name) @name) @definition.function
(namespace_use_declaration (namespace_use_clause [(qualified_name) (name)] @source)) @import
(namespace_use_declaration (namespace_name) @source (namespace_use_group)) @import
${["require_expression", "require_once_expression", "include_expression", "include_once_expression"]
  .map((t) => `(${t} (string (string_content) @source)) @import\n(${t} (binary_expression right: (string (string_content) @source))) @import`)
  .join("\n")}
`;

// Kotlin: an interface is a class_declaration with the \`interface\` keyword; functions in a class body are methods.
const KOTLIN = `
(class_declaration "interface" name: (identifier) @name) @definition.interface
(class_declaration name: (identifier) @name) @definition.class
(object_declaration name: (identifier) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(class_body (function_declaration name: (identifier) @name) @definition.method)
(type_alias type: (identifier) @name) @definition.type
(import (qualified_identifier) @source) @import
`;

const JS_LOCALS =
  "(variable_declarator name: (identifier) @local) (variable_declarator name: (object_pattern (shorthand_property_identifier_pattern) @local)) " +
  "(variable_declarator name: (object_pattern (pair_pattern value: (identifier) @local))) (variable_declarator name: (array_pattern (identifier) @local))";
const C_LOCALS =
  "(declaration declarator: (init_declarator declarator: (identifier) @local)) (declaration declarator: (identifier) @local) " +
  "(init_declarator declarator: (pointer_declarator declarator: (identifier) @local))";

const JS_PROSE = "(comment) @text (string) @text (template_string) @text (template_substitution) @code";
const C_PROSE = "(comment) @text (string_literal) @text (system_lib_string) @text";

export const LANGUAGES: Record<string, LanguageSpec> = {
  typescript: { id: "typescript", wasm: "tree-sitter-typescript.wasm", definitions: JS_CORE + TS_EXTRA, prose: JS_PROSE, locals: JS_LOCALS },
  tsx: { id: "tsx", wasm: "tree-sitter-tsx.wasm", definitions: JS_CORE + TS_EXTRA, prose: JS_PROSE, locals: JS_LOCALS },
  javascript: { id: "javascript", wasm: "tree-sitter-javascript.wasm", definitions: JS_CORE + JS_EXTRA, prose: JS_PROSE, locals: JS_LOCALS },
  python: {
    id: "python",
    wasm: "tree-sitter-python.wasm",
    definitions: PYTHON,
    prose: "(comment) @text (string) @text (interpolation) @code",
    locals: "(assignment left: (identifier) @local) (assignment left: (pattern_list (identifier) @local)) (for_statement left: (identifier) @local)",
  },
  go: {
    id: "go",
    wasm: "tree-sitter-go.wasm",
    definitions: GO,
    prose: "(comment) @text (interpreted_string_literal) @text (raw_string_literal) @text",
    locals: "(short_var_declaration left: (expression_list (identifier) @local)) (var_spec name: (identifier) @local) (const_spec name: (identifier) @local) (range_clause left: (expression_list (identifier) @local))",
  },
  rust: {
    id: "rust",
    wasm: "tree-sitter-rust.wasm",
    definitions: RUST,
    prose: "(line_comment) @text (block_comment) @text (string_literal) @text (raw_string_literal) @text",
    locals: "(let_declaration pattern: (identifier) @local) (let_declaration pattern: (mut_pattern (identifier) @local)) (let_declaration pattern: (tuple_pattern (identifier) @local)) (const_item name: (identifier) @local) (static_item name: (identifier) @local)",
  },
  java: {
    id: "java",
    wasm: "tree-sitter-java.wasm",
    definitions: JAVA,
    prose: "(line_comment) @text (block_comment) @text (string_literal) @text",
    locals: "(local_variable_declaration declarator: (variable_declarator name: (identifier) @local)) (field_declaration declarator: (variable_declarator name: (identifier) @local))",
  },
  c: { id: "c", wasm: "tree-sitter-c.wasm", definitions: C, prose: C_PROSE, locals: C_LOCALS },
  cpp: {
    id: "cpp",
    wasm: "tree-sitter-cpp.wasm",
    definitions: CPP,
    prose: `${C_PROSE} (raw_string_literal) @text`,
    locals: C_LOCALS,
  },
  csharp: {
    id: "csharp",
    wasm: "tree-sitter-c_sharp.wasm",
    definitions: CSHARP,
    prose: "(comment) @text (string_literal) @text (verbatim_string_literal) @text (raw_string_literal) @text (interpolated_string_expression) @text (interpolation) @code",
    locals: "(local_declaration_statement (variable_declaration (variable_declarator (identifier) @local)))",
  },
  ruby: {
    id: "ruby",
    wasm: "tree-sitter-ruby.wasm",
    definitions: RUBY,
    prose: "(comment) @text (string) @text (heredoc_body) @text (interpolation) @code",
    locals: "(assignment left: (identifier) @local) (assignment left: (constant) @local)",
  },
  php: {
    id: "php",
    wasm: "tree-sitter-php.wasm",
    definitions: PHP,
    prose: "(comment) @text (string) @text (encapsed_string) @text (heredoc) @text (nowdoc) @text",
    locals: "(assignment_expression left: (variable_name (name) @local))",
  },
  kotlin: {
    id: "kotlin",
    wasm: "tree-sitter-kotlin.wasm",
    definitions: KOTLIN,
    prose: "(line_comment) @text (block_comment) @text (string_literal) @text (interpolation) @code",
    locals: "(property_declaration (variable_declaration (identifier) @local))",
  },
};

const EXTENSIONS: Record<string, string> = {
  ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
  ".tsx": "tsx",
  ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
  ".py": "python", ".pyi": "python",
  ".go": "go",
  ".rs": "rust",
  ".java": "java",
  ".cs": "csharp",
  ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
  ".php": "php",
  ".kt": "kotlin", ".kts": "kotlin",
  ".c": "c",
  // .h is shared by C and C++; the C++ grammar parses C headers well, so C++ it is.
  ".h": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".ipp": "cpp",
};

/** The tree-sitter language for a path, or undefined for a file indexed as plain text. */
export function languageForPath(filePath: string): string | undefined {
  const dot = filePath.lastIndexOf(".");
  if (dot < 0 || dot < filePath.lastIndexOf("/")) return undefined;
  return EXTENSIONS[filePath.slice(dot).toLowerCase()];
}
