package client

// SetAfterSettlesTaken makes every writer pass call f right after it has
// taken and written the queued settles, until the returned function is
// called.
func SetAfterSettlesTaken(f func()) (restore func()) {
	afterSettlesTaken.Store(&f)
	return func() { afterSettlesTaken.Store(nil) }
}

// Closing reports whether the client's connection has the final pass's
// marker queued, i.e. Close has begun to drain it.
func Closing(c *Client) bool {
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		return false
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for _, f := range cn.ctrl {
		if f.t == 0 {
			return true
		}
	}
	return false
}
