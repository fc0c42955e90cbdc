package authcapture

// MermaidDiagram exposes the state diagram to the README test.
var MermaidDiagram = mermaidDiagram
