package apiserver

// allRoutes is every route, first match wins: literal paths of an area
// come before its patterns.
func (s *Server) allRoutes() []route {
	var rs []route
	for _, area := range [][]route{
		s.systemRoutes(), s.imageRoutes(), s.containerRoutes(), s.containerViewRoutes(),
		s.containerAdminRoutes(), s.streamRoutes(), s.fileRoutes(), s.networkRoutes(),
		s.volumeRoutes(), s.secretRoutes(), s.swarmRoutes(),
	} {
		rs = append(rs, area...)
	}
	return rs
}
