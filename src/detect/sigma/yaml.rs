//! A small YAML document tree built from `yaml-rust2`'s event parser.
//!
//! Why not its `YamlLoader`: Sigma rules never use anchors, and a loader that expands
//! aliases can be made to build an exponential tree from a small file ("billion
//! laughs"). Building our own tree lets us refuse aliases, cap depth and node count, and
//! keep line numbers for error messages.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted; Sigma rules use at most five levels.
const MAX_DEPTH: usize = 64;
/// Most nodes in one file: SigmaHQ's largest rule has a few thousand; this leaves room
/// for generated rules while bounding memory on hostile input.
const MAX_NODES: usize = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `~`, `null`, or an empty plain scalar.
    Null,
    /// Any other scalar, as written (numbers and booleans stay text: Sigma compares
    /// numbers by their string forms).
    Str(String),
    Seq(Vec<Node>),
    /// Keys in file order.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A YAML document with the line it starts on.
#[derive(Debug)]
pub struct Doc {
    pub node: Node,
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    #[error("invalid YAML: {0}")]
    Syntax(String),
    #[error("line {0}: anchors and aliases are not supported in rules")]
    Alias(usize),
    #[error("line {0}: nesting deeper than {MAX_DEPTH} levels")]
    TooDeep(usize),
    #[error("more than {MAX_NODES} YAML nodes")]
    TooManyNodes,
    #[error("line {0}: a mapping key must be a scalar")]
    ComplexKey(usize),
}

enum Frame {
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>, Option<String>),
}

struct Builder {
    docs: Vec<Doc>,
    stack: Vec<Frame>,
    doc_line: usize,
    nodes: usize,
    error: Option<YamlError>,
}

impl Builder {
    fn push_node(&mut self, node: Node, line: usize) {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.fail(YamlError::TooManyNodes);
            return;
        }
        match self.stack.last_mut() {
            None => self.docs.push(Doc {
                node,
                line: self.doc_line,
            }),
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map(entries, pending)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => match node {
                    Node::Str(k) => *pending = Some(k),
                    Node::Null => *pending = Some(String::new()),
                    _ => self.fail(YamlError::ComplexKey(line)),
                },
            },
        }
    }

    fn fail(&mut self, e: YamlError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line();
        match ev {
            Event::DocumentStart => self.doc_line = line,
            Event::Alias(_) => self.fail(YamlError::Alias(line)),
            Event::Scalar(value, style, anchor, _tag) => {
                if anchor != 0 {
                    self.fail(YamlError::Alias(line));
                    return;
                }
                let plain = style == TScalarStyle::Plain;
                let node = if plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    Node::Null
                } else {
                    Node::Str(value)
                };
                self.push_node(node, line);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) if anchor != 0 => {
                self.fail(YamlError::Alias(line));
            }
            Event::SequenceStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(YamlError::TooDeep(line));
                    return;
                }
                self.stack.push(Frame::Seq(Vec::new()));
            }
            Event::MappingStart(..) => {
                if self.stack.len() >= MAX_DEPTH {
                    self.fail(YamlError::TooDeep(line));
                    return;
                }
                self.stack.push(Frame::Map(Vec::new(), None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Frame::Seq(items)) => Node::Seq(items),
                    Some(Frame::Map(entries, _)) => Node::Map(entries),
                    None => return,
                };
                self.push_node(node, line);
            }
            _ => {}
        }
    }
}

/// Parses every document of a YAML stream. Empty documents are dropped.
pub fn parse_docs(text: &str) -> Result<Vec<Doc>, YamlError> {
    let mut b = Builder {
        docs: Vec::new(),
        stack: Vec::new(),
        doc_line: 1,
        nodes: 0,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    let res = parser.load(&mut b, true);
    if let Some(e) = b.error {
        return Err(e);
    }
    res.map_err(|e| YamlError::Syntax(e.to_string()))?;
    b.docs.retain(|d| d.node != Node::Null);
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_with_lines() {
        let docs = parse_docs("a: 1\nb: [x, ~, 'null']\n---\nc:\n  d: e\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].node.get("a"), Some(&Node::Str("1".into())));
        assert_eq!(
            docs[0].node.get("b"),
            Some(&Node::Seq(vec![
                Node::Str("x".into()),
                Node::Null,
                Node::Str("null".into())
            ]))
        );
        assert_eq!(
            docs[1].node.get("c").and_then(|c| c.get("d")),
            Some(&Node::Str("e".into()))
        );
    }

    #[test]
    fn refuses_aliases_and_deep_nesting() {
        assert!(matches!(
            parse_docs("a: &x [1]\nb: *x\n"),
            Err(YamlError::Alias(_))
        ));
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(matches!(parse_docs(&deep), Err(YamlError::TooDeep(_))));
        assert!(matches!(parse_docs("a: [b"), Err(YamlError::Syntax(_))));
    }
}
