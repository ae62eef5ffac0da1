#include "core/sql_check.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace recovery::core::sql {

namespace {

enum class Kind { kWord, kQuotedIdent, kLiteral, kParam, kNumber, kOperator, kCast, kPunct };

struct Token {
  Kind kind;
  std::string text;  // words upper-cased for keyword tests; others as written
  size_t offset;
};

bool is_operator_char(char c) {
  return std::string_view("+-*/<>=~!@#%^&|`?").find(c) != std::string_view::npos;
}

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const size_t start = i;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '\'' || c == '"') {
      // A literal or quoted identifier; the quote character doubled escapes it.
      ++i;
      while (i < s.size()) {
        if (s[i] == c) {
          if (i + 1 < s.size() && s[i + 1] == c) {
            i += 2;
            continue;
          }
          break;
        }
        ++i;
      }
      ++i;
      tokens.push_back({c == '"' ? Kind::kQuotedIdent : Kind::kLiteral,
                        std::string(s.substr(start, i - start)), start});
    } else if (c == '$') {
      ++i;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      tokens.push_back({Kind::kParam, std::string(s.substr(start, i - start)), start});
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
      tokens.push_back({Kind::kNumber, std::string(s.substr(start, i - start)), start});
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
               static_cast<unsigned char>(c) >= 0x80) {
      std::string word;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                              s[i] == '$' || static_cast<unsigned char>(s[i]) >= 0x80)) {
        word += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
        ++i;
      }
      tokens.push_back({Kind::kWord, word, start});
    } else if (c == ':' && i + 1 < s.size() && s[i + 1] == ':') {
      i += 2;
      tokens.push_back({Kind::kCast, "::", start});
    } else if (is_operator_char(c)) {
      while (i < s.size() && is_operator_char(s[i])) ++i;
      tokens.push_back({Kind::kOperator, std::string(s.substr(start, i - start)), start});
    } else {
      ++i;
      tokens.push_back({Kind::kPunct, std::string(1, c), start});
    }
  }
  return tokens;
}

// Keywords that may stand before "(" (no function is called by name).
const std::set<std::string>& paren_keywords() {
  static const auto* const words = new std::set<std::string>{
      "AND",    "ANY",    "ALL",     "ARRAY", "AS",        "BY",     "COALESCE", "CONFLICT",
      "ELSE",   "EXISTS", "EXPLAIN", "FROM",  "GREATEST",  "INTO",   "JOIN",     "LATERAL",
      "LEAST",  "NOT",    "ON",      "OR",    "RETURNING", "SELECT", "THEN",     "USING",
      "VALUES", "WHEN",   "WHERE",   "WITH",  "SET",       "IS",     "NULL",     "LIMIT"};
  return *words;
}

// Constructs that resolve an operator by name behind the text.
const std::set<std::string>& banned_keywords() {
  static const auto* const words = new std::set<std::string>{
      "IN", "BETWEEN", "NULLIF", "DISTINCT", "LIKE", "ILIKE", "SIMILAR", "OVERLAPS", "CAST"};
  return *words;
}

// Words after FROM/JOIN/INTO/UPDATE that are not relation names.
const std::set<std::string>& relation_keywords() {
  static const auto* const words =
      new std::set<std::string>{"ROWS", "LATERAL", "ONLY", "OF", "SKIP", "NOWAIT"};
  return *words;
}

bool is_ident(const Token& t) { return t.kind == Kind::kWord || t.kind == Kind::kQuotedIdent; }

}  // namespace

std::vector<std::string> unqualified_references(std::string_view statement) {
  const std::vector<Token> tokens = tokenize(statement);
  std::vector<std::string> findings;
  std::set<std::string> ctes;
  const auto at = [&](size_t i) -> const Token* {
    return i < tokens.size() ? &tokens[i] : nullptr;
  };
  const auto is = [&](size_t i, Kind kind, const char* text) {
    const Token* t = at(i);
    return t != nullptr && t->kind == kind && t->text == text;
  };
  const auto finding = [&](const std::string& what, const Token& t) {
    findings.push_back(what + " at " + std::to_string(t.offset));
  };

  // CTE names: WITH name AS ( and , name AS ( after it.
  for (size_t i = 0; i + 2 < tokens.size(); ++i) {
    if (is_ident(tokens[i]) && is(i + 1, Kind::kWord, "AS") && is(i + 2, Kind::kPunct, "(") &&
        i > 0 && (is(i - 1, Kind::kWord, "WITH") || is(i - 1, Kind::kPunct, ","))) {
      ctes.insert(tokens[i].text);
    }
  }

  int depth = 0;
  int set_depth = -1;  // inside an UPDATE's SET list at this depth
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    const Token* prev = i > 0 ? &tokens[i - 1] : nullptr;
    const Token* next = at(i + 1);
    switch (t.kind) {
      case Kind::kPunct:
        if (t.text == "(") ++depth;
        if (t.text == ")") {
          --depth;
          if (set_depth > depth) set_depth = -1;
        }
        break;
      case Kind::kCast:
        if (next == nullptr || !is_ident(*next) || !is(i + 2, Kind::kPunct, ".")) {
          finding("type without schema after ::", t);
        }
        break;
      case Kind::kOperator: {
        // OPERATOR(schema.op): pg_catalog's, or the one a type's own equality names.
        const bool qualified = i >= 4 && is(i - 4, Kind::kWord, "OPERATOR") &&
                               is(i - 3, Kind::kPunct, "(") && is_ident(tokens[i - 2]) &&
                               is(i - 1, Kind::kPunct, ".") && is(i + 1, Kind::kPunct, ")");
        const bool star = t.text == "*" && prev != nullptr && prev->kind == Kind::kPunct &&
                          (prev->text == "." || prev->text == "(");
        // SET col = ...: the column right after SET or a comma of the SET list.
        const bool assignment = t.text == "=" && set_depth == depth && prev != nullptr &&
                                is_ident(*prev) && i >= 2 &&
                                (is(i - 2, Kind::kWord, "SET") || is(i - 2, Kind::kPunct, ","));
        if (!qualified && !star && !assignment) finding("operator " + t.text, t);
        break;
      }
      case Kind::kWord: {
        if (banned_keywords().count(t.text) > 0) {
          finding(t.text + " (an operator looked up by name)", t);
          break;
        }
        if (t.text == "CASE" && !is(i + 1, Kind::kWord, "WHEN")) {
          finding("CASE x WHEN (an operator looked up by name)", t);
          break;
        }
        if (t.text == "SET") set_depth = depth;
        if (set_depth == depth &&
            (t.text == "FROM" || t.text == "WHERE" || t.text == "RETURNING")) {
          set_depth = -1;
        }
        const bool after_dot = prev != nullptr && prev->kind == Kind::kPunct && prev->text == ".";
        const bool qualifier = next != nullptr && next->kind == Kind::kPunct && next->text == ".";
        if (next != nullptr && next->kind == Kind::kPunct && next->text == "(" && !after_dot &&
            paren_keywords().count(t.text) == 0 &&
            !(prev != nullptr && is(i - 1, Kind::kWord, "AS")) && t.text != "OPERATOR") {
          finding("function " + t.text + " without schema", t);
        }
        if ((t.text == "FROM" || t.text == "JOIN" || t.text == "INTO" || t.text == "UPDATE") &&
            next != nullptr && is_ident(*next) && relation_keywords().count(next->text) == 0 &&
            !is(i + 2, Kind::kPunct, ".") && ctes.count(next->text) == 0 &&
            !(t.text == "UPDATE" && is(i - 1, Kind::kWord, "DO")) &&
            !(t.text == "UPDATE" && is(i + 1, Kind::kWord, "SET"))) {
          finding("relation " + next->text + " without schema", *next);
        }
        (void)qualifier;
        break;
      }
      default:
        break;
    }
  }
  return findings;
}

}  // namespace recovery::core::sql
