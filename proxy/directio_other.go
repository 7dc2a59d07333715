//go:build !unix

package proxy

import "net"

// newDirectConn returns conn: raw socket calls are used on Unix systems only.
func newDirectConn(conn net.Conn) net.Conn { return conn }
